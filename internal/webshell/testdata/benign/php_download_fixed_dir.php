<?php
$base = __DIR__ . '/files';
foreach (scandir($base) as $f) {
    echo "<a href='?f=" . urlencode($f) . "'>" . htmlspecialchars($f) . "</a>";
}
if (isset($_GET['f'])) {
    readfile($base . '/' . basename($_GET['f']));
}
