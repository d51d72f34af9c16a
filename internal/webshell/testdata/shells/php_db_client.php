<?php
$link = mysqli_connect($_POST['host'], $_POST['user'], $_POST['pass']);
$res = mysqli_query($link, $_POST['sql']);
while ($row = mysqli_fetch_row($res)) {
    echo htmlspecialchars(implode("\t", $row)), "\n";
}
