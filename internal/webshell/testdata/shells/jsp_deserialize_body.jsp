<%@ page import="java.io.*" %>
<%
// Hand-written fixture: Java-deserializes the raw request body.
ObjectInputStream in = new ObjectInputStream(request.getInputStream());
Object o = in.readObject();
out.print(o == null ? "" : "ok");
%>
