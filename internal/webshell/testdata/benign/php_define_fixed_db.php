<?php
// A login form checking the visitor's credentials against a fixed
// database server named by a constant.
define("DB_HOST", "localhost");
class Client extends mysqli
{
    function connect($host, $user, $pass)
    {
        return @$this->real_connect($host, $user, $pass);
    }
}
$db = new Client;
if ($db->connect(DB_HOST, $_POST["user"], $_POST["pass"])) {
    echo "welcome";
}
