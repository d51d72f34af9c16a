<?php
// A spell checker: the request's text is written to the input of aspell,
// which reads words, not commands.
$spec = array(0 => array('pipe', 'r'), 1 => array('pipe', 'w'));
$p = proc_open('aspell -a --lang=en', $spec, $pipes);
if (is_resource($p)) {
    fwrite($pipes[0], $_POST['text']);
    fclose($pipes[0]);
    echo htmlspecialchars(stream_get_contents($pipes[1]));
    proc_close($p);
}
