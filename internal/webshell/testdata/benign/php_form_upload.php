<?php
$name = htmlspecialchars($_POST['name'] ?? '');
echo "<p>Thanks, $name</p>";
if (!empty($_FILES['avatar'])) {
    $dst = '/var/lib/app/avatars/' . md5($_FILES['avatar']['name']) . '.png';
    move_uploaded_file($_FILES['avatar']['tmp_name'], $dst);
}
file_put_contents('/var/log/app/hits.log', date('c') . "\n", FILE_APPEND);
exec('uptime', $out);
echo htmlspecialchars(implode("\n", $out));
