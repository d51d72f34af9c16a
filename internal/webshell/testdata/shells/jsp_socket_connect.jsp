<%@ page import="java.net.*" %>
<%
// Hand-written fixture: opens a socket to a host and port the client names
// (a port scanner).
String host = request.getParameter("h");
int port = Integer.parseInt(request.getParameter("p"));
try {
    Socket s = new Socket(host, port);
    out.print(host + ":" + port + " open");
    s.close();
} catch (Exception e) {
    out.print(host + ":" + port + " closed");
}
%>
