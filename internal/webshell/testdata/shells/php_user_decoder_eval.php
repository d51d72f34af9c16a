<?php
// A hand-written decoder (base64, then every character shifted back by
// one) whose output is evaluated.
function unpackit($s)
{
    $s = base64_decode($s);
    for ($i = 0; $i < strlen($s); $i++) {
        $s[$i] = chr(ord($s[$i]) - 1);
    }
    return $s;
}
eval(unpackit("ZmRpcCEjZWZkcGVmZSM8"));
