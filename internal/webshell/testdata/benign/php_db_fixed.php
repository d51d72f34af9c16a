<?php
require __DIR__ . '/config.php';
$link = mysqli_connect('localhost', 'shop', $db_password, 'shop');
$stmt = mysqli_prepare($link, 'SELECT name FROM items WHERE id = ?');
$id = intval($_GET['id']);
mysqli_stmt_bind_param($stmt, 'i', $id);
mysqli_stmt_execute($stmt);
