<?php
/* Plugin Name: Hello Widget */
function hello_widget_init() {
    register_widget('Hello_Widget');
}
add_action('widgets_init', 'hello_widget_init');
call_user_func('hello_widget_init');
call_user_func_array(array('Hello_Widget', 'render'), array(intval($_GET['id'])));
$page = (int) $_GET['page'];
array_map('trim', explode(',', $_POST['tags']));
