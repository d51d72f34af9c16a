<?php
// A closure capturing a form value with use() and called without
// arguments: the request chooses data, not the function.
$name = isset($_POST['name']) ? $_POST['name'] : '';
$greet = function () use ($name) {
    return 'Hello, ' . strtoupper($name);
};
echo htmlspecialchars($greet());
usort($rows, function ($a, $b) {
    return strcmp($a['title'], $b['title']);
});
