<?php
// Colours, a checksum and an encoded logo: hex and base64 literals that
// are data, not function names.
$palette = array("ffffff", "000000", "ff8800", "336699");
$emptyMd5 = "d41d8cd98f00b204e9800998ecf8427e";
$pixel = "R0lGODlhAQABAAAAACw=";
$title = "aGVsbG8=";
echo '<div style="color:#' . $palette[2] . '">' . htmlspecialchars(base64_decode($title)) . '</div>';
echo '<img src="data:image/gif;base64,' . $pixel . '">';
