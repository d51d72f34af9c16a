<?php
// Fetches a feed from a fixed URL and caches it under a fixed path; the
// request only chooses which cached item to show (an integer).
$url = 'https://feeds.example.org/news.json';
$cache = __DIR__ . '/cache/news.json';
if (!file_exists($cache) || filemtime($cache) < time() - 600) {
    file_put_contents($cache, file_get_contents($url));
}
$items = json_decode(file_get_contents($cache), true);
$i = isset($_GET['item']) ? intval($_GET['item']) : 0;
echo htmlspecialchars($items[$i]['title'] ?? '');
