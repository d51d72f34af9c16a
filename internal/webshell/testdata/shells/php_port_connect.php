<?php
$s = @fsockopen($_POST['host'], $_POST['port'], $errno, $errstr, 2);
echo $s ? "open" : "closed";
