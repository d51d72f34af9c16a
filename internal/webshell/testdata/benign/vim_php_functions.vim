" Vim completion helper listing PHP functions, written for the webshell
" tests (not a shell).
"	- outside of <?php?> getting the parent tag may cause problems.
"	- region start (<?php or <?) is searched without newlines

function! s:InPHP()
	let phpbegin = searchpairpos('<?', '', '?>', 'bWn')
	let phpend = searchpairpos('<?', '', '?>', 'Wn')
	return phpbegin != [0, 0] && phpend != [0, 0]
endfunction

function! s:Namespace(line)
	if a:line =~? '^\(<?php\)\?\s*namespace\s*'
		return matchstr(a:line, '\c^\(<?php\)\?\s*namespace\s*\zs\k\+')
	endif
	return ''
endfunction

let s:php_builtin_functions = {
\ 'system(': 'string $command [, int &$return_var] | string',
\ 'exec(': 'string $command [, array &$output] | string',
\ 'shell_exec(': 'string $cmd | string',
\ 'passthru(': 'string $command | void',
\ 'proc_open(': 'string $cmd, array $descriptorspec, array &$pipes | resource',
\ 'popen(': 'string $command, string $mode | resource',
\ 'eval(': 'string $code | mixed',
\ 'assert(': 'mixed $assertion | bool',
\ 'base64_decode(': 'string $data | string',
\ 'gzinflate(': 'string $data | string',
\ 'str_rot13(': 'string $str | string',
\ 'create_function(': 'string $args, string $code | string',
\ 'call_user_func(': 'callable $callback | mixed',
\ 'preg_replace(': 'mixed $pattern, mixed $replacement, mixed $subject | mixed',
\ 'move_uploaded_file(': 'string $filename, string $destination | bool',
\ 'file_put_contents(': 'string $filename, mixed $data | int',
\ 'fsockopen(': 'string $hostname [, int $port] | resource',
\ 'mysql_connect(': 'string $server, string $username, string $password | resource',
\ 'mail(': 'string $to, string $subject, string $message | bool',
\ 'posix_getpwuid(': 'int $uid | array',
\ 'php_uname(': 'string $mode | string',
\ 'scandir(': 'string $directory | array',
\ 'unlink(': 'string $filename | bool',
\ '$_GET': 'array',
\ '$_POST': 'array',
\ '$_REQUEST': 'array',
\ '$_COOKIE': 'array',
\ '$_FILES': 'array',
\ '$_SERVER': 'array',
\ }

" Index the PHP files of a directory with the real tools, if present.
function! s:Index(dir)
	let files = readdir(a:dir)
	call mkdir(a:dir . '/.tags', 'p')
	call delete(a:dir . '/.tags/old')
	call rename(a:dir . '/.tags/new', a:dir . '/.tags/old')
	return system(g:phpcomplete_ctags . ' -R ' . shellescape(a:dir))
endfunction
