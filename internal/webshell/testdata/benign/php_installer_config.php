<?php
// An installer writing a fixed configuration file and loading it.
$host = 'localhost';
file_put_contents(__DIR__ . '/config.php', "<?php\ndefine('DB_HOST', 'localhost');\ndefine('DB_NAME', 'app');\n");
include __DIR__ . '/config.php';
echo "installed";
