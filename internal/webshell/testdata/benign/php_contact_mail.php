<?php
if (!hash_equals($_SESSION['csrf'], $_POST['csrf'])) {
    exit;
}
mail('webmaster@example.org', 'Contact form', $_POST['message'], 'From: noreply@example.org');
