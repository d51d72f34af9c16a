<?php
$lang = preg_replace('/[^a-z]/', '', $_GET['lang'] ?? 'en');
require __DIR__ . '/lang/' . basename($lang) . '.php';
include_once 'header.php';
