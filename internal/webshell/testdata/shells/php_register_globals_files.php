<?php
// register_globals era file manager: every path and content comes from
// variables the script never assigns (the request sets them).
if ($delfile != "") {
    unlink("$dir/$delfile");
}
if ($savefile != "") {
    $h = fopen($savefile, 'w');
    fwrite($h, $content);
    fclose($h);
}
