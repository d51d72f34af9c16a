<%@ page import="java.io.*,java.net.*" %>
<%
// Hand-written fixture: fetches from a fixed service; the client only
// chooses an (encoded) query value.
String q = URLEncoder.encode(String.valueOf(request.getParameter("q")), "UTF-8");
URLConnection c = new URL("https://api.example.com/search?q=" + q).openConnection();
BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream()));
String first = in.readLine();
out.print(first == null ? "" : first.replace("<", "&lt;"));
%>
