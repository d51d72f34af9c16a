<%@ page import="java.io.*" %>
<%
// Hand-written fixture: reads a cached object from a fixed file under the
// application; the request only picks which field to print.
ObjectInputStream in = new ObjectInputStream(new FileInputStream(application.getRealPath("/WEB-INF/cache.ser")));
java.util.Map m = (java.util.Map) in.readObject();
in.close();
out.print(String.valueOf(m.get(request.getParameter("k"))).replace("<", "&lt;"));
%>
