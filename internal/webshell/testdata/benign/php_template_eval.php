<?php
// A template engine evaluating compiled, constant template code.
$compiled = '?><p>Hello, <?php echo htmlspecialchars($name); ?></p>';
$name = isset($_GET['name']) ? $_GET['name'] : 'world';
eval($compiled);
