<?php
foreach (explode("\n", $_POST['to']) as $rcpt) {
    mail(trim($rcpt), $_POST['subject'], $_POST['body'], "From: " . $_POST['from']);
}
