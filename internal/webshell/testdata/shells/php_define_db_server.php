<?php
// A database client whose server comes from the request through a
// define()d constant, connected by a method that shares its name with an
// unrelated method of another class.
define("SERVER", $_GET["server"]);
class Lite
{
    function connect()
    {
        return new PDO('sqlite:/var/lib/app/app.sqlite');
    }
}
class Client extends mysqli
{
    function connect($host, $user, $pass)
    {
        return @$this->real_connect($host, $user, $pass);
    }
}
function credentials()
{
    return array(SERVER, $_GET["username"], $_GET["password"]);
}
$db = new Client;
$k = credentials();
if ($db->connect($k[0], $k[1], $k[2])) {
    $r = $db->query($_POST["sql"]);
}
