<?php
// A helper writing a file; its caller passes the request's path and data.
function update($filename, $data)
{
    file_put_contents($filename, $data);
}
if ($_POST['action'] == 'update') {
    update($_POST['file'], $_POST['data']);
}
