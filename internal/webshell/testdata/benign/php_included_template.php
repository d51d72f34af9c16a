<?php
// A template included by a controller that sets $title, $rows and $log
// before the include; it appends to a log opened at a fixed path.
$h = fopen(__DIR__ . '/logs/view.log', 'a');
fwrite($h, date('c') . " " . $title . "\n");
fclose($h);
?>
<h1><?= htmlspecialchars($title) ?></h1>
<?php foreach ($rows as $r): ?>
  <p><?= htmlspecialchars($r) ?></p>
<?php endforeach; ?>
